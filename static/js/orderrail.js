/* OrderRail's only script: copy buttons, confirmations, and quiet refresh of live panels.
   Loaded from 'self' with no inline handlers, so it works under a strict Content-Security-Policy. */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // http://127.0.0.1 in development is not a secure context everywhere: fall back to a hidden textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy refused"));
      } catch (err) {
        reject(err);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  function bindCopy(root) {
    root.querySelectorAll("[data-copy-target]").forEach(function (button) {
      if (button.dataset.bound) { return; }
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copyTarget);
        if (!source) { return; }
        var label = button.textContent;
        copyText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
          button.classList.add("done");
          setTimeout(function () { button.textContent = label; button.classList.remove("done"); }, 2000);
        }, function () {
          button.textContent = "Select and copy";
        });
      });
    });
  }

  function bindConfirm(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.bound) { return; }
      form.dataset.bound = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  // <div id="x" data-refresh="15"> re-reads the same element from the current URL every N seconds, so a trader
  // watching the alerts list or a timeline sees new outcomes without reloading. Stops when the tab is hidden.
  function bindRefresh() {
    document.querySelectorAll("[data-refresh]").forEach(function (panel) {
      var seconds = parseInt(panel.dataset.refresh, 10) || 15;
      setInterval(function () {
        if (document.hidden) { return; }
        fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "refresh" } })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            if (!html) { return; }
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById(panel.id);
            if (fresh && fresh.innerHTML !== panel.innerHTML) {
              panel.innerHTML = fresh.innerHTML;
              bindCopy(panel);
              bindConfirm(panel);
            }
          })
          .catch(function () { /* offline for a moment: try again next tick */ });
      }, seconds * 1000);
    });
  }

  // The route form shows only the fields of the chosen sizing mode.
  function bindSizing() {
    var select = document.getElementById("id_sizing_mode");
    if (!select) { return; }
    function sync() {
      document.querySelectorAll("[data-sizing]").forEach(function (el) {
        el.hidden = el.dataset.sizing.split(" ").indexOf(select.value) === -1;
      });
    }
    select.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindCopy(document);
    bindConfirm(document);
    bindRefresh();
    bindSizing();
  });
})();
