import { html, nothing, type TemplateResult } from 'lit';

export interface Column {
  label: string;
  /** Right-aligned numbers. */
  num?: boolean;
  /** Read to screen readers only (e.g. a column of buttons). */
  hidden?: boolean;
}

/**
 * A table in a horizontally scrollable region: focusable, so keyboard users can scroll it on a narrow
 * screen, and named (by `label` text or the id of a heading) for screen readers. Rows bring their own
 * `<th scope="row">`.
 */
export function dataTable(
  name: { label: string } | { labelledBy: string },
  columns: Column[],
  rows: unknown,
  caption?: string,
): TemplateResult {
  return html`<div
    class="table-scroll"
    role="region"
    tabindex="0"
    aria-label=${'label' in name ? name.label : nothing}
    aria-labelledby=${'labelledBy' in name ? name.labelledBy : nothing}
  >
    <table>
      ${
        caption
          ? html`<caption>
              ${caption}
            </caption>`
          : nothing
      }
      <thead>
        <tr>
          ${columns.map((c) => html`<th scope="col" class=${c.num ? 'num' : nothing}>${c.hidden ? html`<span class="visually-hidden">${c.label}</span>` : c.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}
