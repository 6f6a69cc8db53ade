// The API reference at /docs: Scalar's standalone bundle (from our own
// origin, loaded after this file) renders /v1/openapi.json into #reference.
// Everything Scalar would fetch from elsewhere (fonts, its proxy, its
// telemetry, its AI agent, its registry) is turned off: the page talks only
// to Keyhold, and the Content-Security-Policy of /docs allows nothing else.
(function () {
  "use strict";
  // Zod, inside Scalar, probes whether it may compile validators with
  // Function(""), which the policy (script-src 'self', no 'unsafe-eval')
  // refuses and reports as a violation. Jitless, it does not ask. This must
  // run before the bundle does, so this file comes first.
  globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig || {}, { jitless: true });

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("reference");
    if (!el || !window.Scalar) return;
    // Scalar's sidebar and its mobile menu stick below a header of this
    // height: ours, which stays at the top.
    var header = document.querySelector("[data-docs-header]");
    if (header) {
      document.documentElement.style.setProperty("--scalar-custom-header-height", header.offsetHeight + "px");
    }
    // Scalar's one link out, "Powered by Scalar", loses its address and
    // is hidden: the reference links only to Keyhold. (Removing the node
    // would trip Vue's next patch of it.)
    var unlink = function () {
      el.querySelectorAll("a[href]").forEach(function (a) {
        if (new URL(a.getAttribute("href"), location.href).origin !== location.origin) {
          a.removeAttribute("href");
          a.hidden = true;
        }
      });
    };
    new MutationObserver(unlink).observe(el, { childList: true, subtree: true });
    window.Scalar.createApiReference(el, {
      url: el.getAttribute("data-url"),
      withDefaultFonts: false,
      telemetry: false,
      agent: { disabled: true },
      mcp: { disabled: true },
      hideClientButton: true,
      hideTestRequestButton: true,
      showDeveloperTools: "never",
      persistAuth: false,
      documentDownloadType: "json",
      operationTitleSource: "summary",
      defaultOpenAllTags: true,
      theme: "default",
      // The portal is light only; so is its reference.
      forceDarkModeState: "light",
      hideDarkModeToggle: true,
    });
  });
})();
