/**
 * Where the widget's script came from: the API it talks to unless `api-base` says otherwise.
 * document.currentScript is only set while a classic script runs its top level, so it is read once,
 * when this bundle loads. A module (the inbox page) has none: the page's own origin then.
 */
const scriptOrigin = (() => {
  const script = document.currentScript;
  if (!(script instanceof HTMLScriptElement) || !script.src) return null;
  try {
    return new URL(script.src).origin;
  } catch {
    return null;
  }
})();

export function defaultApiBase(): string {
  return scriptOrigin ?? location.origin;
}
