// Starts Swagger UI on /docs (a file, not an inline script: the page's CSP allows no inline code).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // never send the schema to an outside validator
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
