/* Tables of input rows (schedule periods, local list tags): "Add row" appends an empty copy
   of the last row, "Remove" deletes its row (one row always stays). Without script the
   form still sends the rows shown. */
(function () {
  "use strict";

  function clear(row) {
    row.querySelectorAll("input").forEach(function (input) {
      input.value = "";
      input.removeAttribute("aria-invalid");
    });
    row.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
    row.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
  }

  document.querySelectorAll("table[data-rows]").forEach(function (table) {
    var body = table.tBodies[0];
    var add = document.getElementById(table.dataset.rows + "-add");
    if (add) {
      add.addEventListener("click", function () {
        var last = body.rows[body.rows.length - 1];
        var copy = last.cloneNode(true);
        clear(copy);
        body.appendChild(copy);
        var first = copy.querySelector("input, select");
        if (first) { first.focus(); }
      });
    }
    table.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (!button) { return; }
      var row = button.closest("tr");
      if (body.rows.length > 1) { row.remove(); } else { clear(row); }
    });
  });
})();
