/* Small enhancements of the admin forms; every form also works without them. */
(function () {
  "use strict";

  // Forms with data-confirm ask before they are sent.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });

  // "Format JSON" pretty-prints the configuration, or says where it is broken.
  var config = document.getElementById("config");
  var button = document.getElementById("format-config");
  var report = document.getElementById("config-check");
  if (config && button && report) {
    button.addEventListener("click", function () {
      var text = config.value.trim();
      try {
        var value = text ? JSON.parse(text) : {};
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          report.textContent = "config: must be a JSON object ({...})";
          return;
        }
        config.value = JSON.stringify(value, null, 2);
        report.textContent = "";
      } catch (error) {
        report.textContent = "config: " + error.message;
      }
    });
  }
})();
