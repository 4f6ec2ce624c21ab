// Types of serve.mjs for the TypeScript test that starts the page's server.
export function buildWeb(): Promise<void>;
export function serveWeb(o?: { port?: number; host?: string; log?: (line: string) => void }): Promise<{ url: string; close: () => Promise<void> }>;
