// Starts Swagger UI on the /schema page. It lives in a file, not in the page, so that the
// page's Content-Security-Policy can refuse every inline script.
(function () {
  "use strict";

  const container = document.getElementById("swagger-ui");

  // "Try it out" from a signed-in browser rides on the session cookie: such unsafe requests
  // need the CSRF token, as the app's own pages send it (requests that carry an
  // Authorization header need none).
  function csrfToken() {
    const cookie = document.cookie.match(/(?:^|;\s*)exam_csrf=([^;]+)/);
    return cookie ? decodeURIComponent(cookie[1]) : null;
  }

  window.ui = SwaggerUIBundle({
    url: container.dataset.document,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    validatorUrl: null,
    requestInterceptor: (request) => {
      const token = csrfToken();
      if (token && request.method && request.method !== "GET") {
        request.headers["X-CSRF-Token"] = token;
      }
      return request;
    },
  });
})();
