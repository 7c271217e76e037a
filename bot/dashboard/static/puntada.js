// Small comforts, none needed: sortable tables, and a member picker that switches at once.
(function () {
  "use strict";
  function value(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) raw = cell.textContent.trim();
    var n = Number(raw);
    return raw !== "" && !isNaN(n) ? n : raw.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, index) {
      th.tabIndex = 0;
      th.classList.add("sorts");
      function sort() {
        var body = table.tBodies[0];
        var up = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        Array.from(body.rows)
          .sort(function (a, b) {
            var x = value(a.cells[index]), y = value(b.cells[index]);
            return (x > y ? 1 : x < y ? -1 : 0) * (up ? 1 : -1);
          })
          .forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var conversation = document.getElementById("conversation");
  if (conversation) conversation.scrollTop = conversation.scrollHeight;
})();
