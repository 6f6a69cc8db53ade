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
//   <nav data-scroll-row>           a row that scrolls sideways on a phone:
//                                   its active item (aria-current) is
//                                   scrolled into view, and data-more-start /
//                                   data-more-end say there is more to that
//                                   side (the CSS fades that edge).
//   <details data-remember="NAME">  remembers whether it was left open or
//                                   closed (localStorage), for next time.
//   <form data-auto-submit>         submits itself when one of its selects
//                                   changes (the account switcher); its
//                                   [data-auto-submit-button], there for
//                                   pages without script, is hidden.
//   <div data-chart-bars>           a chart's bar buttons: a tap (click)
//                                   marks one data-active, which shows its
//                                   numbers, until a tap elsewhere or Escape;
//                                   arrow keys, Home and End move between
//                                   bars (one tab stop for the chart).
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

  // The row's scroll position is set by hand, not with scrollIntoView,
  // which would scroll the page too.
  function setUpScrollRow(row) {
    var active = row.querySelector('[aria-current="page"]');
    if (active && row.scrollWidth > row.clientWidth) {
      var r = row.getBoundingClientRect();
      var a = active.getBoundingClientRect();
      row.scrollLeft += a.left - r.left - (r.width - a.width) / 2;
    }
    function mark() {
      var rest = row.scrollWidth - row.clientWidth - row.scrollLeft;
      row.toggleAttribute("data-more-start", row.scrollLeft > 1);
      row.toggleAttribute("data-more-end", rest > 1);
    }
    row.addEventListener("scroll", mark, { passive: true });
    window.addEventListener("resize", mark);
    mark();
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-scroll-row]"), setUpScrollRow);

  // localStorage may be missing or refuse (private windows, storage off):
  // then the element just keeps the state the page gave it.
  var REMEMBER_PREFIX = "keyhold:open:";

  function remembered(name) {
    try {
      return window.localStorage.getItem(REMEMBER_PREFIX + name);
    } catch (e) {
      return null;
    }
  }

  function remember(name, open) {
    try {
      window.localStorage.setItem(REMEMBER_PREFIX + name, open ? "1" : "0");
    } catch (e) {
      // Not remembered: nothing else to do.
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("details[data-remember]"), function (details) {
    var name = details.getAttribute("data-remember");
    var state = remembered(name);
    if (state === "0") details.open = false;
    if (state === "1") details.open = true;
    details.addEventListener("toggle", function () {
      remember(name, details.open);
    });
  });

  function clearActiveBars(except) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart-bars] [data-active]"), function (b) {
      if (b !== except) b.removeAttribute("data-active");
    });
  }

  document.addEventListener("click", function (event) {
    var bar = event.target.closest("[data-chart-bars] > button");
    clearActiveBars(bar);
    if (bar) bar.toggleAttribute("data-active");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      clearActiveBars(null);
      return;
    }
    var bar = event.target.closest && event.target.closest("[data-chart-bars] > button");
    if (!bar) return;
    var bars = Array.prototype.slice.call(bar.parentNode.children);
    var i = bars.indexOf(bar);
    var next = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: bars.length - 1 }[event.key];
    if (next === undefined || next < 0 || next >= bars.length) return;
    event.preventDefault();
    bar.setAttribute("tabindex", "-1");
    bars[next].setAttribute("tabindex", "0");
    bars[next].focus();
  });

  Array.prototype.forEach.call(document.querySelectorAll("form[data-auto-submit]"), function (form) {
    var button = form.querySelector("[data-auto-submit-button]");
    if (button) button.hidden = true;
    form.addEventListener("change", function (event) {
      if (!(event.target instanceof HTMLSelectElement)) return;
      // requestSubmit runs the submit listeners (data-confirm) like a click.
      if (form.requestSubmit) form.requestSubmit();
      else form.submit();
    });
  });

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
