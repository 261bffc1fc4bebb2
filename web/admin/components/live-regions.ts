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

/**
 * The API's message per form input it names (HttpError fields: "segment.roles.0" -> "segment",
 * "variants.1.templateVersion" -> "variants"), for aria-invalid and the message under the input.
 */
export function inputErrorsOf(err: unknown): Map<string, string> {
  return new Map(err instanceof HttpError ? err.fields.map((f) => [f.split('.')[0], err.message]) : []);
}
