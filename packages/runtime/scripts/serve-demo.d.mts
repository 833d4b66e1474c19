export interface DemoServer {
  readonly port: number;
  /** The demo page, http://127.0.0.1:PORT/demo/ */
  readonly url: string;
  close(): Promise<void>;
}
export function startDemoServer(options?: { port?: number; models?: string }): Promise<DemoServer>;
