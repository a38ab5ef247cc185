/** The part of swagger-ui-bundle.js (a global script, no types of its own) that the initializer uses. */
interface SwaggerRequest {
  url: string;
  headers: Record<string, string>;
  /** Set on the request that loads the document itself. */
  loadSpec?: boolean;
}

interface SwaggerResponse {
  url: string;
  status: number;
}

interface SwaggerUI {
  preauthorizeApiKey(securityScheme: string, value: string): void;
}

declare function SwaggerUIBundle(options: {
  url: string;
  dom_id: string;
  validatorUrl: string | null;
  syntaxHighlight?: { activated?: boolean; theme?: string };
  requestInterceptor?: (request: SwaggerRequest) => SwaggerRequest;
  responseInterceptor?: (response: SwaggerResponse) => SwaggerResponse;
  onComplete?: () => void;
}): SwaggerUI;
