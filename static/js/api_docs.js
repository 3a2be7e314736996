/* The API documentation page: Swagger UI 5 (from the flask-swagger-ui package, served
 * under /vendor/swagger-ui/) renders our OpenAPI document, whose URL is the
 * data-spec attribute of #swagger-ui (no inline script). "Try it out" sends the
 * login cookie and this page's XSRF token, so it acts with the viewer's own role. */
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  if (!el || !window.SwaggerUIBundle) {
    return;
  }
  function xsrf() {
    var match = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  window.SwaggerUIBundle({
    url: el.dataset.spec,
    domNode: el,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    requestInterceptor: function (request) {
      request.headers["X-XSRFToken"] = xsrf();
      return request;
    }
  });
})();
