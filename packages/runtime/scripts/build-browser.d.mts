export const BROWSER_DIR: string;
export const BROWSER_BUNDLE: string;
export function browserBundleStale(): Promise<boolean>;
export function buildBrowser(): Promise<{ bundle: string; files: string[] }>;
export function ensureBrowserBuild(): Promise<void>;
