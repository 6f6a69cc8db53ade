// Keyhold's only script: small progressive enhancements, no dependencies.
// Copied as is by `npm run build` into static/js/app.js; loaded with `defer`
// from the layout, so the CSP can stay at script-src 'self'.
//
//   <button data-copy-target="ID">  copies the text of the element #ID and
//                                   says "Copied" for a moment.
//   <form data-confirm="Message">   asks confirm(Message) before submitting.
//   <button data-scope-add="read" data-scope-target="ID">
//                                   adds the scope "read" to the input #ID
//                                   (a comma-separated list), once.
//   <div data-replace-url="/path">  replaces the page's address with /path
//                                   (history.replaceState), so that reloading
//                                   a page that answered a POST GETs /path
//                                   instead of posting again.
(function () {
  "use strict";

  var COPIED_MS = 1600;

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "fixed -left-[9999px] top-0 opacity-0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function setLabel(button, text) {
    var label = button.querySelector("[data-copy-label]") || button;
    if (!button.hasAttribute("data-copy-original")) {
      button.setAttribute("data-copy-original", label.textContent);
    }
    label.textContent = text;
  }

  function flash(button, text) {
    setLabel(button, text);
    button.setAttribute("data-copied", "");
    clearTimeout(button._keyholdTimer);
    button._keyholdTimer = setTimeout(function () {
      setLabel(button, button.getAttribute("data-copy-original"));
      button.removeAttribute("data-copied");
    }, COPIED_MS);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    event.preventDefault();
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    copyText(source.textContent.trim()).then(
      function () {
        flash(button, "Copied");
      },
      function () {
        flash(button, "Press Ctrl+C");
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    );
  });

  document.addEventListener("click", function (event) {
    var chip = event.target.closest("[data-scope-add]");
    if (!chip) return;
    event.preventDefault();
    var input = document.getElementById(chip.getAttribute("data-scope-target"));
    if (!input) return;
    var scope = chip.getAttribute("data-scope-add");
    var scopes = input.value.split(/[\s,]+/).filter(Boolean);
    if (scopes.indexOf(scope) < 0) scopes.push(scope);
    input.value = scopes.join(", ");
    chip.setAttribute("data-added", "");
    input.focus();
  });

  function replaceURL() {
    var el = document.querySelector("[data-replace-url]");
    if (!el || !window.history || !window.history.replaceState) return;
    var url = el.getAttribute("data-replace-url");
    // Only paths on this origin ("/keys/…"), never "//host" or "https:".
    if (!url || url.charAt(0) !== "/" || url.charAt(1) === "/") return;
    try {
      window.history.replaceState(null, "", url);
    } catch (e) {
      // An address the browser refuses: keep the current one.
    }
  }

  replaceURL();

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
