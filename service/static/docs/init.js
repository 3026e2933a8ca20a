// Starts Swagger UI on the spec named by the page (kept out of the HTML: the page's
// Content-Security-Policy allows no inline script).
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  const ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // No call to the public validator at swagger.io: the page talks only to this app.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: preferThisServer,
  });

  // The spec's `servers` name the development address, which is neither where this
  // page was served nor allowed by its CSP (connect-src 'self'): "Try it out" goes to
  // the server that served the page, listed first, wherever it runs.
  function preferThisServer() {
    const spec = ui.specSelectors.specJson().toJS();
    const here = { url: window.location.origin, description: "This server" };
    const others = (spec.servers || []).filter((server) => server.url !== here.url);
    ui.specActions.updateJsonSpec({ ...spec, servers: [here, ...others] });
    ui.oas3Actions.setSelectedServer(here.url); // it had already picked the spec's first
  }
})();
