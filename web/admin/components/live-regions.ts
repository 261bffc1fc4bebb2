import { html, nothing, type TemplateResult } from 'lit';
import { HttpError } from '../../shared/api-client';

/**
 * Live regions stay in the page while empty, so screen readers announce the text put into them later.
 * status: polite progress ("Saved", "Loading…"); alert: what went wrong.
 */
export function statusRegion(text: string, label?: string): TemplateResult {
  return html`<p class="status" role="status" aria-label=${label ?? nothing}>${text}</p>`;
}

export function alertRegion(text: string): TemplateResult {
  return html`<div class="alert" role="alert">${text ? html`<p>${text}</p>` : nothing}</div>`;
}

/** The API's message (HttpError) or the error's own text. */
export function errorText(err: unknown): string {
  if (err instanceof HttpError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
