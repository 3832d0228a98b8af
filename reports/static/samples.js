// spatialeval sample browser. Everything shown comes from the JSON embedded in the page
// (#data: this run's samples) and in the task's answers file (../answers/<task>.js: every run's
// answers on the same task, for disagreements).
// Model output is untrusted: it only ever reaches the page through textContent and attribute
// values; no string is parsed as HTML.
"use strict";

(function () {
  const PAGE = 25;
  const SVG = "http://www.w3.org/2000/svg";
  const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

  function readJSON(id, fallback) {
    const el = document.getElementById(id);
    if (!el) return fallback;
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function codeOf(row) {
    if (row.error) return "-";
    if (row.score !== null && row.score !== undefined) return "~";
    return row.correct ? "1" : "0";
  }

  function verdictText(code) {
    return { "1": "✓ correct", "0": "✗ wrong", "~": "chance score", "-": "inference error", " ": "not in this run" }[code] || "?";
  }

  function imageBlock(img, boxes) {
    if (!img.src) return el("div", "note", img.note || "no image");
    const wrap = el("div", "imgwrap");
    const link = el("a");
    link.href = img.src;
    link.target = "_blank";
    link.rel = "noopener";
    const im = el("img");
    im.src = img.src;
    im.alt = "sample image";
    link.appendChild(im);
    wrap.appendChild(link);
    if (boxes && boxes.length && img.w && img.h) {
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", "0 0 " + img.w + " " + img.h);
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("class", "boxes");
      const fs = Math.max(10, Math.round(img.h / 22));
      boxes.forEach((b) => {
        const [x1, y1, x2, y2] = b.bbox;
        const r = document.createElementNS(SVG, "rect");
        r.setAttribute("x", x1); r.setAttribute("y", y1);
        r.setAttribute("width", Math.max(0, x2 - x1)); r.setAttribute("height", Math.max(0, y2 - y1));
        const t = document.createElementNS(SVG, "text");
        t.setAttribute("x", x1 + 2); t.setAttribute("y", Math.max(fs, y1 - 3));
        t.setAttribute("font-size", fs);
        t.textContent = b.id;
        const title = document.createElementNS(SVG, "title");
        title.textContent = b.id + " [" + b.bbox.join(", ") + "]";
        r.appendChild(title);
        svg.appendChild(r); svg.appendChild(t);
      });
      wrap.appendChild(svg);
    }
    return wrap;
  }

  function outputBlock(row) {
    const box = el("div", "output");
    if (row.error) {
      box.appendChild(el("div", "meta", "inference error (not scored):"));
      box.appendChild(el("pre", "error", row.error));
      return box;
    }
    if (row.final !== null && row.final !== undefined) {
      box.appendChild(el("div", "meta", "answer segment (after the reasoning):"));
      box.appendChild(el("pre", "final", row.final || "(empty)"));
      const d = el("details", "reasoning");
      d.appendChild(el("summary", null, "full output with its reasoning (" + row.reasoning_chars + " characters of reasoning)"));
      d.appendChild(el("pre", "raw", row.output));
      box.appendChild(d);
    } else {
      box.appendChild(el("div", "meta", "output:"));
      box.appendChild(el("pre", "raw", row.output));
    }
    return box;
  }

  function card(row, i, ctx) {
    const code = codeOf(row);
    const c = el("article", "sample " + (code === "1" ? "right" : code === "-" ? "error" : code === "0" ? "wrong" : ""));
    c.id = "s-" + row.id;
    const imgs = el("div", "imgs");
    (row.images || []).forEach((img, k) => imgs.appendChild(imageBlock(img, k === 0 ? row.boxes : null)));
    if (!row.images || !row.images.length) imgs.appendChild(el("div", "note", "no image"));
    if (row.boxes && row.boxes.length) imgs.appendChild(el("div", "meta", row.boxes.length + " box(es) from the output's <scene> graph, original-image pixels"));
    c.appendChild(imgs);
    const body = el("div", "body");
    const meta = [ "#" + row.index, row.id ];
    if (row.category) meta.push("category " + row.category);
    if (row.group) meta.push("group " + row.group);
    if (row.finish) meta.push("finish " + row.finish);
    if (row.tokens !== null && row.tokens !== undefined) meta.push(row.tokens + " tokens");
    body.appendChild(el("div", "meta", meta.join(" · ")));
    body.appendChild(el("div", "question", row.question));
    if (row.choices && row.choices.length) {
      const ol = el("ol", "choices");
      row.choices.forEach((ch, k) => {
        const li = el("li", null, ch);
        if (LETTERS[k] === row.gold) li.classList.add("gold");
        if (LETTERS[k] === row.answer) li.classList.add("picked");
        ol.appendChild(li);
      });
      body.appendChild(ol);
    }
    const p = el("p");
    p.appendChild(el("span", null, "gold " + (row.gold === null ? "–" : row.gold) + " · extracted "));
    p.appendChild(el("strong", null, row.answer === null ? "none" : row.answer));
    const how = row.failure ? "failure: " + row.failure : row.stage ? "stage: " + row.stage : "";
    if (how) p.appendChild(el("span", "muted", " (" + how + ")"));
    p.appendChild(el("span", null, " · "));
    let vtext = verdictText(code);
    if (code === "~") vtext += " " + Number(row.score).toFixed(3);
    p.appendChild(el("span", "verdict " + (code === "1" ? "right" : code === "0" ? "wrong" : "error"), vtext));
    body.appendChild(p);
    [ctx.a, ctx.b].forEach((k, n) => {
      if (k <= 0) return;
      const o = ctx.others.runs[k - 1];
      const ans = o.answers[i];
      const cd = o.codes[i] || " ";
      body.appendChild(el("p", "other", (n ? "B" : "A") + " · " + o.label + ": " + (cd === " " ? "not in that run" :
        (ans === null ? "no answer" : "answered " + ans) + " · " + verdictText(cd))));
    });
    body.appendChild(outputBlock(row));
    c.appendChild(body);
    return c;
  }

  // The task's other runs, from its answers file (answers/<task>.js, shared by the task's pages):
  // this run left out, the rest aligned to this run's samples by id (" ": not in that run).
  function otherRuns(data, rows) {
    const all = (window.SPATIALEVAL_ANSWERS || {})[data.task];
    if (!all) return { runs: [] };
    const pos = new Map(all.ids.map((id, j) => [id, j]));
    const at = rows.map((r) => (pos.has(r.id) ? pos.get(r.id) : -1));
    return { runs: all.runs.filter((o) => o.slug !== data.slug).map((o) => ({
      label: o.label, slug: o.slug,
      answers: at.map((j) => (j < 0 ? null : o.answers[j])),
      codes: at.map((j) => (j < 0 ? " " : o.codes[j])).join(""),
    })) };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const data = readJSON("data", { rows: [] });
    const rows = data.rows || [];
    const others = otherRuns(data, rows);
    const $ = (id) => document.getElementById(id);
    const ctl = { wrong: $("f-wrong"), fail: $("f-fail"), error: $("f-error"), cat: $("f-cat"), text: $("f-text"),
                  a: $("f-a"), b: $("f-b"), disagree: $("f-disagree") };
    const cats = Array.from(new Set(rows.map((r) => r.category).filter((c) => c !== null && c !== undefined))).sort();
    cats.forEach((c) => { const o = el("option", null, c); o.value = c; ctl.cat.appendChild(o); });
    const labels = ["this run (" + (data.label || "") + ")"].concat((others.runs || []).map((o) => o.label));
    // B starts at the first other run that shares samples with this one (else this run).
    const firstB = 1 + (others.runs || []).findIndex((o) => /[^ ]/.test(o.codes));
    [ctl.a, ctl.b].forEach((sel, n) => labels.forEach((l, k) => {
      const o = el("option", null, l); o.value = String(k); sel.appendChild(o);
      if ((n === 0 && k === 0) || (n === 1 && k === firstB)) o.selected = true;
    }));
    let page = 0;

    function answerOf(k, i) {
      if (k === 0) return [rows[i].answer, codeOf(rows[i])];
      const o = others.runs[k - 1];
      return [o.answers[i], o.codes[i] || " "];
    }

    function matches(row, i) {
      const code = codeOf(row);
      if (ctl.wrong.checked && code !== "0") return false;
      if (ctl.fail.checked && !row.failure) return false;
      if (ctl.error.checked && code !== "-") return false;
      if (ctl.cat.value && row.category !== ctl.cat.value) return false;
      const q = ctl.text.value.toLowerCase();
      if (q && !(row.question + "\n" + row.output + "\n" + row.id).toLowerCase().includes(q)) return false;
      if (ctl.disagree.checked) {
        const [aa, ac] = answerOf(+ctl.a.value, i);
        const [ba, bc] = answerOf(+ctl.b.value, i);
        if (" -".includes(ac) || " -".includes(bc) || aa === ba) return false;
      }
      return true;
    }

    function render() {
      const hits = [];
      rows.forEach((r, i) => { if (matches(r, i)) hits.push(i); });
      const pages = Math.max(1, Math.ceil(hits.length / PAGE));
      page = Math.min(page, pages - 1);
      const box = $("samples");
      box.replaceChildren();
      const ctx = { a: +ctl.a.value, b: +ctl.b.value, others: others };
      hits.slice(page * PAGE, (page + 1) * PAGE).forEach((i) => box.appendChild(card(rows[i], i, ctx)));
      $("count").textContent = hits.length + " of " + rows.length + " samples";
      $("page").textContent = "page " + (page + 1) + " of " + pages;
      $("prev").disabled = page === 0;
      $("next").disabled = page >= pages - 1;
    }

    Object.values(ctl).forEach((c) => c.addEventListener(c.tagName === "INPUT" && c.type === "search" ? "input" : "change",
      () => { page = 0; render(); }));
    $("prev").addEventListener("click", () => { page -= 1; render(); });
    $("next").addEventListener("click", () => { page += 1; render(); });
    if (location.hash.startsWith("#s-")) {  // a link to one sample: show the page that holds it
      const i = rows.findIndex((r) => "s-" + r.id === decodeURIComponent(location.hash.slice(1)));
      if (i >= 0) page = Math.floor(i / PAGE);
    }
    render();
    if (location.hash.startsWith("#s-")) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  });
})();
