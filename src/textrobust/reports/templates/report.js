/* Sortable and filterable tables. Works on the DOM only (textContent, data-sort); never writes HTML. */
(function () {
  "use strict";

  function sortKey(cell, numeric) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    if (numeric) {
      var value = parseFloat(raw);
      return isNaN(value) ? null : value;
    }
    return raw.trim().toLowerCase();
  }

  function compare(a, b) {
    if (a.key === null && b.key === null) { return a.index - b.index; }
    if (a.key === null) { return 1; }   /* missing values always last */
    if (b.key === null) { return -1; }
    if (a.key < b.key) { return -a.dir; }
    if (a.key > b.key) { return a.dir; }
    return a.index - b.index;           /* stable */
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, column) {
      var button = th.querySelector("button.sort");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.getAttribute("data-type") === "num";
        var body = table.tBodies[0];
        var rows = Array.prototype.map.call(body.rows, function (row, index) {
          return { row: row, index: index, dir: ascending ? 1 : -1, key: sortKey(row.cells[column], numeric) };
        });
        rows.sort(compare);
        rows.forEach(function (item) { body.appendChild(item.row); });
      });
    });
  }

  function makeFilterable(input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table) { return; }
    var status = document.querySelector('.filter-status[data-for="' + table.id + '"]');
    input.hidden = false;
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase();
      var rows = table.tBodies[0].rows;
      var matched = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var hit = query === "" || row.textContent.toLowerCase().indexOf(query) !== -1;
        row.hidden = !hit;
        if (hit) { matched += 1; }
      });
      if (status) {
        status.textContent = query === "" ? "" : matched + " of " + rows.length + " shown rows match";
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
  Array.prototype.forEach.call(document.querySelectorAll("input.table-filter"), makeFilterable);
}());
