// swagger-ui-dist ships no types; the one call the docs page makes.
declare module "swagger-ui-dist/swagger-ui-es-bundle.js" {
  interface Options {
    url: string;
    dom_id: string;
    deepLinking?: boolean;
    persistAuthorization?: boolean;
    validatorUrl?: string | null;
  }
  export default function SwaggerUI(options: Options): unknown;
}
