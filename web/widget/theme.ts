import { css } from 'lit';

/**
 * Shared look of the notification center's elements. A shop themes the widget with these custom
 * properties, set on `notification-bell` (or any ancestor); defaults pass WCAG AA contrast on white:
 *
 *   --nc-font            font family                        (system-ui, sans-serif)
 *   --nc-text            text colour                        (#1f2937)
 *   --nc-muted-text      secondary text: times, hints       (#4b5563)
 *   --nc-surface         panel background                   (#ffffff)
 *   --nc-border          borders and separators             (#d1d5db)
 *   --nc-accent          buttons, links, unread marker      (#1d4ed8)
 *   --nc-accent-text     text on the accent colour          (#ffffff)
 *   --nc-unread-surface  background of an unread item       (#eff6ff)
 *   --nc-badge           unread badge background            (#b91c1c)
 *   --nc-badge-text      unread badge text                  (#ffffff)
 *   --nc-radius          corner radius                      (8px)
 *   --nc-panel-width     width of the bell's panel          (24rem)
 *   --nc-panel-height    greatest height of the bell's panel (70vh)
 *   --nc-z-index         stacking of the bell's panel       (1000)
 */
export const theme = css`
  :host {
    font-family: var(--nc-font, system-ui, sans-serif);
    color: var(--nc-text, #1f2937);
    line-height: 1.4;
  }
  [hidden] {
    display: none !important;
  }
  button {
    font: inherit;
    cursor: pointer;
    border-radius: calc(var(--nc-radius, 8px) / 2);
    padding: 0.35rem 0.75rem;
    border: 1px solid var(--nc-accent, #1d4ed8);
    background: var(--nc-surface, #ffffff);
    color: var(--nc-accent, #1d4ed8);
  }
  button.primary {
    background: var(--nc-accent, #1d4ed8);
    color: var(--nc-accent-text, #ffffff);
  }
  button:disabled {
    cursor: default;
    opacity: 0.6;
  }
  button:focus-visible,
  a:focus-visible,
  input:focus-visible,
  select:focus-visible,
  [tabindex='-1']:focus-visible,
  [role='tab']:focus-visible {
    outline: 2px solid var(--nc-accent, #1d4ed8);
    outline-offset: 2px;
  }
  a {
    color: var(--nc-accent, #1d4ed8);
  }
  .muted {
    color: var(--nc-muted-text, #4b5563);
  }
  /* The unread count: on the bell, and on the feed's tab. */
  .badge {
    display: inline-block;
    min-width: 1.25rem;
    padding: 0 0.3rem;
    box-sizing: border-box;
    border-radius: 0.625rem;
    background: var(--nc-badge, #b91c1c);
    color: var(--nc-badge-text, #ffffff);
    font-size: 0.75rem;
    font-weight: 700;
    line-height: 1.25rem;
    text-align: center;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    margin: -1px;
    padding: 0;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
    border: 0;
  }
`;
