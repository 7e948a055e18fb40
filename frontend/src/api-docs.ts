// The interactive API documentation the backend serves at /api/docs: Swagger UI, bundled at build
// time (nothing is fetched from the internet), reading the backend's own OpenAPI document.
import "swagger-ui-dist/swagger-ui.css";
import SwaggerUI from "swagger-ui-dist/swagger-ui-es-bundle.js";

SwaggerUI({
  url: "/api/openapi.json",
  dom_id: "#api-docs",
  deepLinking: true,
  // The "Authorize" button keeps the bearer token for the page's life only.
  persistAuthorization: false,
  // No badge from validator.swagger.io: the page calls nothing but this server.
  validatorUrl: null,
});
