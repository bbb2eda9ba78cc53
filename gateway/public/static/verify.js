// Assay public verify page: sends the dropped or chosen file to POST /v1/verify (no API key: the
// public, rate-limited answer) and shows what it reveals. Text only through textContent.
(function () {
  "use strict";
  var M = JSON.parse(document.getElementById("i18n").textContent);
  var lang = document.documentElement.lang;
  var zone = document.getElementById("zone");
  var input = document.getElementById("file");
  var status = document.getElementById("status");
  var result = document.getElementById("result");
  var preview = document.getElementById("preview");
  var lastUrl = null;

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function stop(ev) { ev.preventDefault(); ev.stopPropagation(); }
  ["dragenter", "dragover"].forEach(function (n) {
    document.addEventListener(n, function (ev) { stop(ev); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (n) {
    document.addEventListener(n, function (ev) { stop(ev); zone.classList.remove("over"); });
  });
  document.addEventListener("drop", function (ev) {
    var files = ev.dataTransfer && ev.dataTransfer.files;
    if (files && files.length) check(files[0]);
  });
  input.addEventListener("change", function () {
    if (input.files && input.files.length) check(input.files[0]);
  });
  document.getElementById("verify-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (input.files && input.files.length) check(input.files[0]);
  });

  function check(file) {
    result.hidden = true;
    say(M.checking, false);
    var form = new FormData();
    form.append("image", file, file.name || "image");
    fetch("/v1/verify", { method: "POST", body: form, credentials: "omit" })
      .then(function (r) {
        if (r.status === 429) {
          say(M.rate_limited.replace("{s}", r.headers.get("Retry-After") || "60"), true);
          return null;
        }
        return r.json().then(function (body) {
          if (!r.ok) {
            say(M.bad_file + " " + ((body && body.error && body.error.message) || r.status), true);
            return null;
          }
          return body;
        });
      })
      .then(function (body) { if (body) show(body, file); })
      .catch(function () { say(M.network_error, true); });
  }

  function set(id, text) { document.getElementById(id).textContent = text || "—"; }

  function when(iso) {
    if (!iso) return "";
    var text = /[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z";
    var d = new Date(text);
    if (isNaN(d.getTime())) return iso;
    var local = d.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
    return local + " (" + d.toISOString().replace(".000", "").replace("T", " ").replace("Z", " UTC") + ")";
  }

  function mark(id, found, text) {
    var li = document.getElementById(id);
    li.className = found ? "yes" : "no";
    li.querySelector(".v").textContent = text;
  }

  function show(b, file) {
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(file);
    preview.src = lastUrl;
    var verdict = document.getElementById("verdict");
    var found = Boolean(b.id);
    verdict.textContent = found ? M.found : (b.detected ? M.labelled_only : M.not_found);
    verdict.className = found ? "found" : "";
    document.getElementById("note").hidden = found;
    document.getElementById("facts").hidden = !found;
    if (found) {
      set("f-provider", b.provider);
      set("f-system", b.system);
      set("f-time", when(b.time));
      set("f-record", b.id);
    }
    var m = b.marks || {};
    var c2pa = m.c2pa || "absent";
    var c2paText = M["c2pa_" + c2pa] || c2pa;
    if (m.c2pa_signer) c2paText += " · " + M.signed_by + " " + m.c2pa_signer;
    mark("m-c2pa", c2pa === "trusted" || c2pa === "valid", c2paText);
    mark("m-label", m.metadata_label, m.metadata_label ? M.yes : M.no);
    mark("m-watermark", m.watermark, m.watermark ? M.yes : M.no);
    mark("m-hash", m.hash_match, m.hash_match ? M.yes : M.no);
    mark("m-features", m.feature_match, m.feature_match ? M.yes : M.no);
    result.hidden = false;
    say("", false);
  }
})();
