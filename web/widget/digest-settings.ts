import { html, nothing } from 'lit';
import { humanize } from './labels';

/** One category's daily digest (GET/PUT /api/preferences/digests, docs/digests-and-caps.md). */
export type DigestSetting = { digest: 'daily'; hour: number } | { digest: 'off' };
export type DigestSettings = Record<string, DigestSetting>;

/** The hour a digest switched on here starts with (the caps' default digest hour). */
const DEFAULT_HOUR = 9;
const HOURS = Array.from({ length: 24 }, (_, hour) => hour);
const hourLabel = (hour: number) => `${String(hour).padStart(2, '0')}:00`;

/** The categories whose setting differs from what was loaded: the body of the PUT (empty: nothing to send). */
export function changedDigests(loaded: DigestSettings, draft: DigestSettings): DigestSettings {
  return Object.fromEntries(
    Object.entries(draft).filter(([category, s]) => JSON.stringify(loaded[category]) !== JSON.stringify(s)),
  );
}

/**
 * "Daily digest at <hour>" per digestible category: a checkbox (off / daily) and the hour, in the
 * shopper's time zone. Native controls, each with its own label, so keyboards and screen readers work.
 */
export function renderDigests(
  settings: DigestSettings | null,
  edit: (category: string, setting: DigestSetting) => void,
) {
  const categories = Object.keys(settings ?? {});
  if (!settings || categories.length === 0) return nothing;
  return html`
    <fieldset>
      <legend>Daily digests</legend>
      ${categories.map((category) => {
        const setting = settings[category];
        const hour = setting.digest === 'daily' ? setting.hour : DEFAULT_HOUR;
        const name = humanize(category);
        return html`
          <div class="digest">
            <label class="check">
              <input
                type="checkbox"
                .checked=${setting.digest === 'daily'}
                aria-describedby="digest-hint"
                @change=${(e: Event) =>
                  edit(
                    category,
                    (e.target as HTMLInputElement).checked ? { digest: 'daily', hour } : { digest: 'off' },
                  )}
              />
              ${name}: daily digest
            </label>
            <label>
              at
              <select
                aria-label=${`${name}: digest hour`}
                ?disabled=${setting.digest !== 'daily'}
                @change=${(e: Event) =>
                  edit(category, { digest: 'daily', hour: Number((e.target as HTMLSelectElement).value) })}
              >
                ${HOURS.map((h) => html`<option value=${h} .selected=${h === hour}>${hourLabel(h)}</option>`)}
              </select>
            </label>
          </div>
        `;
      })}
      <p id="digest-hint" class="hint muted">
        A daily digest collects these messages and sends them as one, at that hour in your time zone.
      </p>
    </fieldset>
  `;
}
