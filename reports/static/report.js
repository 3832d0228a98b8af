// spatialeval report pages: sortable tables; on the leaderboard also filters, column toggles and
// the average / average rank of the visible rows and columns. No data is read from the network,
// and nothing is inserted as HTML: only textContent and attributes change.
"use strict";

function cellValue(td, type) {
  if (!td) return null;
  const raw = td.getAttribute("data-v");
  const text = raw === null ? td.textContent.trim() : raw;
  if (type === "num") {
    if (text === "") return null;
    const x = parseFloat(text);
    return Number.isNaN(x) ? null : x;
  }
  return text.toLowerCase();
}

function sortTable(table, colIndex, type, desc) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a.cells[colIndex], type);
    const y = cellValue(b.cells[colIndex], type);
    if (x === null && y === null) return 0;
    if (x === null) return 1;  // empty cells last, whichever the direction
    if (y === null) return -1;
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  });
  rows.forEach((r) => body.appendChild(r));
}

function makeSortable(table) {
  const heads = Array.from(table.tHead ? table.tHead.rows[0].cells : []);
  heads.forEach((th, i) => {
    if (!th.classList.contains("sortable")) return;
    th.addEventListener("click", (ev) => {
      if (ev.target.closest("a")) return;  // a link inside the header navigates
      const type = th.getAttribute("data-type") || "text";
      let desc;
      if (th.classList.contains("sorted-desc")) desc = false;
      else if (th.classList.contains("sorted-asc")) desc = true;
      else desc = th.getAttribute("data-desc") === "1";
      heads.forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(desc ? "sorted-desc" : "sorted-asc");
      sortTable(table, i, type, desc);
    });
  });
}

// --- the leaderboard ----------------------------------------------------------------------------

function ranks(pairs) {  // [[row, value]] -> Map(row -> rank), 1 = best, ties share their mean rank
  const sorted = pairs.slice().sort((a, b) => b[1] - a[1]);
  const out = new Map();
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1][1] === sorted[i][1]) j++;
    for (let k = i; k <= j; k++) out.set(sorted[k][0], (i + j) / 2 + 1);
    i = j + 1;
  }
  return out;
}

function recompute(table) {
  const rows = Array.from(table.tBodies[0].rows).filter((r) => !r.classList.contains("filtered"));
  const cols = Array.from(table.tHead.rows[0].cells)
    .filter((th) => th.hasAttribute("data-col") && !th.classList.contains("hidden-col"))
    .map((th) => th.getAttribute("data-col"));
  const rankOf = new Map();  // row -> [ranks]
  const valsOf = new Map();  // row -> [values]
  rows.forEach((r) => { rankOf.set(r, []); valsOf.set(r, []); });
  cols.forEach((col) => {
    const pairs = [];
    rows.forEach((r) => {
      const v = cellValue(r.querySelector('td[data-col="' + col + '"]'), "num");
      if (v !== null) { pairs.push([r, v]); valsOf.get(r).push(v); }
    });
    ranks(pairs).forEach((rk, r) => rankOf.get(r).push(rk));
  });
  rows.forEach((r) => {
    const vals = valsOf.get(r);
    const rk = rankOf.get(r);
    const avg = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
    const ar = rk.length ? rk.reduce((a, b) => a + b, 0) / rk.length : null;
    const avgCell = r.querySelector("td.avg");
    const rankCell = r.querySelector("td.rank");
    avgCell.setAttribute("data-v", avg === null ? "" : String(avg));
    avgCell.textContent = avg === null ? "–" : (100 * avg).toFixed(1);
    const k = document.createElement("span");
    k.className = "muted small";
    k.textContent = " (" + vals.length + ")";
    avgCell.appendChild(k);
    rankCell.setAttribute("data-v", ar === null ? "" : String(ar));
    rankCell.textContent = ar === null ? "–" : ar.toFixed(2);
  });
}

function setupLeaderboard(table) {
  const filter = document.getElementById("filter");
  const kinds = Array.from(document.querySelectorAll("input.kind"));
  const hideIncomplete = document.getElementById("hide-incomplete");
  const toggles = Array.from(document.querySelectorAll("input.col-toggle"));
  function apply() {
    const q = (filter.value || "").toLowerCase();
    const shown = new Set(kinds.filter((k) => k.checked).map((k) => k.value));
    Array.from(table.tBodies[0].rows).forEach((r) => {
      const ok = shown.has(r.getAttribute("data-kind"))
        && (r.getAttribute("data-label") || "").toLowerCase().includes(q)
        && !(hideIncomplete.checked && r.getAttribute("data-incomplete") === "1");
      r.classList.toggle("filtered", !ok);
    });
    toggles.forEach((t) => {
      table.querySelectorAll(".col-" + CSS.escape(t.value)).forEach((el) => el.classList.toggle("hidden-col", !t.checked));
    });
    recompute(table);
    const sorted = table.tHead.querySelector("th.sorted-asc, th.sorted-desc");
    if (sorted) {
      sortTable(table, sorted.cellIndex, sorted.getAttribute("data-type") || "text", sorted.classList.contains("sorted-desc"));
    }
  }
  filter.addEventListener("input", apply);
  kinds.concat(toggles, [hideIncomplete]).forEach((el) => el.addEventListener("change", apply));
  apply();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.board").forEach(makeSortable);
  const lb = document.getElementById("leaderboard");
  if (lb) setupLeaderboard(lb);
});
