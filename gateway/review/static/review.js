// Assay review page: keyboard shortcuts. a approve, r reject, c claim, e escalate, n next.
// Served from /review/static (the page's Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  function submit(id) {
    var form = document.getElementById(id);
    if (!form) return false;
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();  // runs the browser's validation: a reject needs a reason code
    } else if (form.reportValidity()) {
      form.submit();
    }
    return true;
  }
  var keys = {
    a: function () { return submit("approve-form"); },
    r: function () { return submit("reject-form"); },
    c: function () { return submit("claim-form"); },
    e: function () { return submit("escalate-form"); },
    n: function () {
      var link = document.getElementById("next-link");
      if (!link) return false;
      window.location.assign(link.getAttribute("href"));
      return true;
    }
  };
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    var fn = keys[ev.key];
    if (fn && fn()) ev.preventDefault();
  });
})();
