// Assay audit console: calls the audit API with the key typed in (sessionStorage only), draws the
// charts as SVG, and checks a record's inclusion proof and checkpoint signature with WebCrypto.
(function () {
  "use strict";
  var M = JSON.parse(document.getElementById("i18n").textContent);
  var KEY = "assay_audit_key", VKEY = "assay_audit_vkey";
  var $ = function (id) { return document.getElementById(id); };
  var enc = new TextEncoder();
  var recordId = document.body.getAttribute("data-record");

  function key() { return sessionStorage.getItem(KEY) || ""; }
  function fail(text) { $("error").textContent = M.error + ": " + text; }

  function api(path) {
    return fetch(path, { headers: { Authorization: "Bearer " + key() } }).then(function (r) {
      if (r.ok) return r;
      return r.json().then(
        function (b) { throw new Error((b.error && b.error.message) || String(r.status)); },
        function () { throw new Error(String(r.status)); }
      );
    });
  }
  function json(path) { return api(path).then(function (r) { return r.json(); }); }

  // --- hashing and the RFC 9162 inclusion fold --------------------------------------------------
  function concat(parts) {
    var n = parts.reduce(function (a, p) { return a + p.length; }, 0), out = new Uint8Array(n), o = 0;
    parts.forEach(function (p) { out.set(p, o); o += p.length; });
    return out;
  }
  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }
  function unhex(h) { var out = new Uint8Array(h.length / 2); for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16); return out; }
  function unb64(s) { return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }); }
  function same(a, b) { if (a.length !== b.length) return false; for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; }
  function node(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }

  async function rootFromProof(index, size, leaf, proof) {
    if (index < 0 || index >= size) throw new Error("index outside the tree");
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0) throw new Error("proof too long");
      if ((fn & 1) || fn === sn) {
        r = await node(p, r);
        while (!(fn & 1) && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("proof too short");
    return r;
  }

  // --- C2SP signed note, Ed25519 ------------------------------------------------------------------
  async function verifyNote(note, vkey) {
    // <name>+<8 hex>+<base64>: the base64 may hold "+" itself, so split at the first two only
    var m0 = /^([^+\s]+)\+([0-9a-fA-F]{8})\+(\S+)$/.exec(vkey.trim());
    if (!m0) throw new Error("the key does not read <name>+<id>+<base64>");
    var name = m0[1], kid = unhex(m0[2]), raw = unb64(m0[3]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 note key");
    var cut = note.lastIndexOf("\n\n");
    if (cut < 0) throw new Error("not a signed note");
    var text = note.slice(0, cut + 1);
    var lines = note.slice(cut + 2).split("\n").filter(function (l) { return l; });
    var pub = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    for (var i = 0; i < lines.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(lines[i]);
      if (!m || m[1] !== name) continue;
      var sig = unb64(m[2]);
      if (!same(sig.slice(0, 4), kid)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, pub, sig.slice(4), enc.encode(text))) return text;
      throw new Error("the signature by " + name + " does not verify");
    }
    throw new Error("no signature by " + name);
  }

  function step(id, ok, detail) {
    var li = $(id);
    li.className = ok ? "ok" : "bad";
    li.querySelector(".v").textContent = (ok ? "✓ " : "✗ ") + (detail || "");
  }

  async function showRecord() {
    $("record").hidden = false;
    $("r-id").textContent = recordId;
    var verdict = $("verdict");
    try {
      var rec = await json("/v1/audit/records/" + encodeURIComponent(recordId));
      $("r-body").textContent = JSON.stringify(rec, null, 2);
      var p = await json("/v1/audit/records/" + encodeURIComponent(recordId) + "/proof");
      $("r-note").textContent = p.checkpoint.note;
      var ok = true;
      var leaf = await sha256(concat([new Uint8Array([0]), enc.encode(p.leaf)]));
      var leafOk = same(leaf, unhex(p.leaf_hash));
      step("s-leaf", leafOk, leafOk ? "" : "the leaf text does not hash to the logged leaf");
      ok = ok && leafOk;
      var pinned = localStorage.getItem(VKEY);
      var vkey = pinned || p.checkpoint.public_key;
      $("key-source").textContent = pinned ? M.key_source_pinned : M.key_source_server;
      var text = null;
      try { text = await verifyNote(p.checkpoint.note, vkey); step("s-sig", true, vkey.split("+")[0]); }
      catch (e) { step("s-sig", false, e.message); ok = false; }
      var lines = (text || p.checkpoint.note).split("\n");
      var size = parseInt(lines[1], 10), root = unb64(lines[2]);
      var rootOk = false;
      try {
        var got = await rootFromProof(p.index, size, leaf, p.proof.map(unhex));
        rootOk = size === p.tree_size && same(got, root);
        step("s-root", rootOk, rootOk ? "size " + size : "the proof leads to another root");
      } catch (e) { step("s-root", false, e.message); }
      ok = ok && rootOk;
      verdict.textContent = ok ? M.proof_verified : M.proof_failed;
      verdict.className = "verdict " + (ok ? "ok" : "bad");
    } catch (e) {
      verdict.textContent = M.proof_failed;
      verdict.className = "verdict bad";
      fail(e.message);
    }
  }

  // --- charts ---------------------------------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f5fbf", "#a4262c", "#d08c00", "#1f7a3d", "#7a3e9d", "#5b6670", "#0b8a8a"];
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }

  function bars(svg, counts) { // horizontal bars, largest first
    clear(svg);
    var items = Object.keys(counts).map(function (k) { return [k, counts[k]]; })
      .sort(function (a, b) { return b[1] - a[1]; }).slice(0, 8);
    var max = Math.max.apply(null, items.map(function (i) { return i[1]; }).concat([1]));
    var w = 320, rowH = 20;
    svg.setAttribute("viewBox", "0 0 " + w + " " + Math.max(rowH, items.length * rowH));
    items.forEach(function (it, i) {
      var y = i * rowH, bw = Math.max(1, (w - 150) * it[1] / max);
      el("rect", { x: 110, y: y + 3, width: bw, height: rowH - 6, fill: COLORS[0], "data-key": it[0], "data-count": it[1] }, svg);
      el("text", { x: 105, y: y + 14, "text-anchor": "end" }, svg).textContent = it[0].slice(0, 20);
      el("text", { x: 114 + bw, y: y + 14 }, svg).textContent = String(it[1]);
    });
  }

  function stacked(svg, legend, days) { // decisions per day
    clear(svg);
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    var keys = Object.keys(days).sort(), decisions = {};
    keys.forEach(function (d) { Object.keys(days[d]).forEach(function (k) { decisions[k] = 1; }); });
    var names = Object.keys(decisions).sort();
    var max = Math.max.apply(null, keys.map(function (d) {
      return names.reduce(function (a, n) { return a + (days[d][n] || 0); }, 0);
    }).concat([1]));
    var w = 320, h = 160, bw = Math.max(2, (w - 30) / Math.max(1, keys.length) - 2);
    svg.setAttribute("viewBox", "0 0 " + w + " " + (h + 20));
    keys.forEach(function (d, i) {
      var x = 28 + i * (bw + 2), y = h;
      names.forEach(function (n, j) {
        var v = days[d][n] || 0, bh = h * v / max;
        if (!v) return;
        y -= bh;
        el("rect", { x: x, y: y, width: bw, height: bh, fill: COLORS[j % COLORS.length], "data-day": d, "data-decision": n, "data-count": v }, svg);
      });
      if (i === 0 || i === keys.length - 1) el("text", { x: x, y: h + 14 }, svg).textContent = d.slice(5);
    });
    el("text", { x: 0, y: 10 }, svg).textContent = String(max);
    names.forEach(function (n, j) {
      var s = document.createElement("span"), i = document.createElement("i");
      i.style.background = COLORS[j % COLORS.length];
      s.appendChild(i); s.appendChild(document.createTextNode(n));
      legend.appendChild(s);
    });
  }

  function parity(svg, report) { // female share per group, parity line, 95% whisker
    clear(svg);
    var groups = report.groups.filter(function (g) { return g.faces > 0; }).slice(0, 12);
    var w = 320, rowH = 20, x0 = 110, bw = w - 150;
    svg.setAttribute("viewBox", "0 0 " + w + " " + Math.max(rowH, groups.length * rowH));
    groups.forEach(function (g, i) {
      var y = i * rowH, share = g.gender_disparity + 0.5;
      el("rect", { x: x0, y: y + 3, width: Math.max(1, bw * share), height: rowH - 6, fill: COLORS[0], "data-key": g.group, "data-share": share.toFixed(4) }, svg);
      el("line", { x1: x0 + bw * (g.gender_disparity_low + 0.5), x2: x0 + bw * (g.gender_disparity_high + 0.5), y1: y + rowH / 2, y2: y + rowH / 2, stroke: "#000" }, svg);
      el("text", { x: x0 - 5, y: y + 14, "text-anchor": "end" }, svg).textContent = g.group.slice(0, 20);
      el("text", { x: x0 + bw + 4, y: y + 14 }, svg).textContent = Math.round(share * 100) + "% (" + g.faces + ")";
    });
    el("line", { x1: x0 + bw / 2, x2: x0 + bw / 2, y1: 0, y2: Math.max(rowH, groups.length * rowH), stroke: "#000", "stroke-dasharray": "3,3" }, svg);
  }

  function query() {
    var q = new URLSearchParams();
    new FormData($("filters")).forEach(function (v, k) { if (v) q.set(k, v); });
    return q;
  }

  async function load() {
    var q = query(), all = [], cursor = null;
    do {
      q.set("limit", "500");
      if (cursor) q.set("cursor", cursor); else q.delete("cursor");
      var page = await json("/v1/audit/records?" + q.toString());
      all = all.concat(page.data);
      cursor = page.next_cursor;
    } while (cursor && all.length < 20000);
    $("count").textContent = all.length + " " + M.loaded;
    var days = {}, cats = {}, kinds = {}, pols = {}, models = {};
    all.forEach(function (r) {
      var d = (r.created_at || "").slice(0, 10), dec = r.decision || r.kind;
      days[d] = days[d] || {};
      days[d][dec] = (days[d][dec] || 0) + 1;
      (r.categories || []).forEach(function (c) { cats[c] = (cats[c] || 0) + 1; });
      kinds[r.kind] = (kinds[r.kind] || 0) + 1;
      if (r.policy_id) pols[r.policy_id] = (pols[r.policy_id] || 0) + 1;
      if (r.model_id) models[r.model_id] = (models[r.model_id] || 0) + 1;
    });
    stacked($("chart-days"), $("legend-days"), days);
    bars($("chart-categories"), cats);
    bars($("chart-kinds"), kinds);
    bars($("chart-policies"), pols);
    bars($("chart-models"), models);
    var b = new URLSearchParams(), f = query();
    ["tenant", "since", "until", "model", "policy"].forEach(function (k) { if (f.get(k)) b.set(k, f.get(k)); });
    json("/v1/audit/reports/bias?" + b.toString()).then(function (r) { parity($("chart-bias"), r); }, function (e) { fail(e.message); });
    var st = await json("/v1/audit/appeals" + (f.get("tenant") ? "?tenant=" + encodeURIComponent(f.get("tenant")) : ""));
    $("appeals-decided").textContent = String(st.decided);
    $("appeals-overturned").textContent = String(st.overturned);
    $("overturn-rate").textContent = st.overturn_rate == null ? "–" : (st.overturn_rate * 100).toFixed(1) + " %";
    var over = {};
    Object.keys(st.by_category).forEach(function (c) { over[c] = st.by_category[c].overturned; });
    bars($("chart-overturns"), over);
    var body = $("records").querySelector("tbody");
    while (body.firstChild) body.removeChild(body.firstChild);
    all.slice(0, 200).forEach(function (r) {
      var tr = document.createElement("tr");
      [r.created_at, r.record_id, r.kind, r.decision, (r.categories || []).join(", "), r.tenant, r.policy_id, r.model_id]
        .forEach(function (v, i) {
          var td = document.createElement("td");
          if (i === 1) {
            var a = document.createElement("a");
            a.href = "/audit/records/" + encodeURIComponent(v);
            a.textContent = v;
            td.appendChild(a);
          } else td.textContent = v == null ? "" : String(v);
          tr.appendChild(td);
        });
      body.appendChild(tr);
    });
  }

  function download(format) {
    var q = query();
    q.delete("limit");
    q.set("format", format);
    api("/v1/audit/export?" + q.toString()).then(function (r) { return r.blob(); }).then(function (b) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(b);
      a.download = "assay-audit." + format;
      document.body.appendChild(a);
      a.click();
      a.remove();
    }).catch(function (e) { fail(e.message); });
  }

  function start() {
    $("error").textContent = "";
    if (!key()) return;
    if (recordId) { showRecord(); return; }
    $("console").hidden = false;
    load().catch(function (e) { fail(e.message); });
  }

  $("vkey").value = localStorage.getItem(VKEY) || "";
  $("pin").addEventListener("click", function () {
    var v = $("vkey").value.trim();
    if (v) localStorage.setItem(VKEY, v); else localStorage.removeItem(VKEY);
  });
  $("key-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    start();
  });
  $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); load().catch(function (e) { fail(e.message); }); });
  $("export-jsonl").addEventListener("click", function () { download("jsonl"); });
  $("export-csv").addEventListener("click", function () { download("csv"); });
  start();
})();
