import type { EventType } from './event-types';
import { EVENT_CATALOG, type Category } from './event-catalog';

/**
 * What each event's `data` (and a direct send's `variables`) must carry: required and optional fields,
 * their types and limits. parseBusinessEvent checks it, so the client, the API and the workflow's first
 * step refuse the same data with the same message; the template API refuses templates that use a
 * variable the schema does not provide. Fields not listed here are allowed (webhook payloads carry
 * them) but no default template uses them.
 */

export const DATA_FIELD_TYPES = [
  'text',
  'reference',
  'amount',
  'currency',
  'count',
  'stock',
  'url',
  'time',
] as const;
export type DataFieldType = (typeof DATA_FIELD_TYPES)[number];

export interface DataField {
  type: DataFieldType;
  /** Required fields must be present and not null; optional ones may be absent or null (= absent). */
  required: boolean;
  /** Longest string for `text` (default 200). */
  maxLength?: number;
  description: string;
}

export type DataSpec = Readonly<Record<string, DataField>>;

const MAX_AMOUNT = 1e12;
const MAX_STOCK = 1e9;
const DECIMAL = /^\d{1,12}(\.\d{1,4})?$/;
const CURRENCY = /^[A-Za-z]{3}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

interface FieldType {
  /** For docs: what a value looks like. */
  summary(field: DataField): string;
  /** Why the value does not fit, or null. */
  check(value: unknown, field: DataField): string | null;
  /** A valid value, for examples and tests. */
  sample: unknown;
}

const isInteger = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;

export const FIELD_TYPES: Record<DataFieldType, FieldType> = {
  text: {
    summary: (f) => `string, 1-${f.maxLength ?? 200} characters`,
    check: (v, f) => {
      const max = f.maxLength ?? 200;
      return typeof v === 'string' && v.trim().length > 0 && v.length <= max
        ? null
        : `must be a non-blank string of at most ${max} characters`;
    },
    sample: 'Asha Rao',
  },
  reference: {
    summary: () => 'string of 1-100 characters, or a non-negative integer',
    check: (v) =>
      (typeof v === 'string' && v.trim().length > 0 && v.length <= 100) ||
      isInteger(v, 0, Number.MAX_SAFE_INTEGER)
        ? null
        : 'must be a non-blank string of at most 100 characters or a non-negative integer',
    sample: 'A-1001',
  },
  amount: {
    summary: () => 'number >= 0, or a decimal string such as "1499.00"',
    check: (v) =>
      (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_AMOUNT) ||
      (typeof v === 'string' && DECIMAL.test(v))
        ? null
        : 'must be a number from 0 to 1e12 or a decimal string such as "1499.00"',
    sample: 1499,
  },
  currency: {
    summary: () => 'ISO 4217 code such as INR',
    check: (v) =>
      typeof v === 'string' && CURRENCY.test(v)
        ? null
        : 'must be a 3-letter ISO 4217 currency code such as INR',
    sample: 'INR',
  },
  count: {
    summary: () => 'integer >= 0',
    check: (v) => (isInteger(v, 0, MAX_STOCK) ? null : `must be an integer from 0 to ${MAX_STOCK}`),
    sample: 3,
  },
  stock: {
    summary: () => 'integer (negative when oversold)',
    check: (v) =>
      isInteger(v, -MAX_STOCK, MAX_STOCK) ? null : `must be an integer from -${MAX_STOCK} to ${MAX_STOCK}`,
    sample: 2,
  },
  url: {
    summary: () => 'http(s) URL or a path starting with /, at most 2048 characters',
    check: (v) =>
      typeof v === 'string' && v.length <= 2048 && isLink(v)
        ? null
        : 'must be an http(s) URL or a path starting with /, at most 2048 characters',
    sample: 'https://shop.example/profile/orders/9',
  },
  time: {
    summary: () => 'ISO 8601 time with offset, such as "2026-12-01T18:00:00Z"',
    check: (v) =>
      typeof v === 'string' && ISO_TIME.test(v) && !Number.isNaN(Date.parse(v))
        ? null
        : 'must be an ISO 8601 time with offset, such as "2026-12-01T18:00:00Z"',
    sample: '2026-12-01T18:00:00Z',
  },
};

function isLink(value: string): boolean {
  if (/^\/(?!\/)\S*$/.test(value)) return true;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !/\s/.test(value);
  } catch {
    return false;
  }
}

const optional = (type: DataFieldType, description: string, maxLength?: number): DataField => ({
  type,
  required: false,
  description,
  ...(maxLength ? { maxLength } : {}),
});
const required = (type: DataFieldType, description: string, maxLength?: number): DataField => ({
  type,
  required: true,
  description,
  ...(maxLength ? { maxLength } : {}),
});

const userName = optional('text', "the recipient's name; default: the recipient's `name`");
const orderNumber = required('reference', 'the order (also ties follow-ups and supersession together)');
const orderUrl = optional('url', 'link to the order');
const payment: DataSpec = {
  orderNumber,
  userName,
  amount: optional('amount', 'amount paid'),
  currency: optional('currency', 'currency of amount'),
  paymentId: optional('reference', "the payment provider's id"),
  orderUrl,
};

/** The data each business event carries (the variable names shop integrations already send). */
export const EVENT_DATA_SPECS: Record<EventType, DataSpec> = {
  ORDER_CREATED: {
    orderNumber,
    userName,
    total: optional('amount', 'order total'),
    currency: optional('currency', 'currency of total'),
    orderUrl,
    itemCount: optional('count', 'number of items'),
    promisedShipBy: optional(
      'time',
      'when the shop promised to ship; the order journey sends `order_delayed` if it has not shipped by then',
    ),
  },
  ORDER_SHIPPED: {
    orderNumber,
    userName,
    trackingNumber: optional('reference', "the carrier's tracking number"),
    orderUrl,
  },
  ORDER_DELIVERED: { orderNumber, userName, orderUrl },
  ORDER_CANCELLED: {
    orderNumber,
    userName,
    orderUrl,
    reason: optional('text', 'why the order was cancelled', 500),
  },
  PAYMENT_CAPTURED: payment,
  PAYMENT_FAILED: payment,
  INVENTORY_LOW_STOCK: {
    productName: required('text', 'the product running low'),
    currentStock: required('stock', 'units left'),
    userName,
    threshold: optional('stock', 'the alert threshold'),
    productUrl: optional('url', "link to the product's inventory page"),
    sku: optional('reference', 'stock keeping unit'),
  },
};

/** Variables of the seeded marketing template (campaigns). */
export const MARKETING_ANNOUNCEMENT_SPEC: DataSpec = {
  headline: required('text', 'headline (title, subject)'),
  message: required('text', 'the announcement', 2000),
  userName,
};

/**
 * Template variables every notification gets besides its data: the envelope's `options.actionUrl` and
 * `options.actionText` (optional: use them inside `{{#if}}`).
 */
export const OPTION_VARIABLES = ['actionUrl', 'actionText'] as const;

/**
 * Template variables every notification gets from the service's configuration, always present:
 * `shopUrl` (SHOP_URL without a trailing slash, "" when unset) and `shopName` (SHOP_NAME), for links
 * such as `{{shopUrl}}/orders/{{orderNumber}}` (docs/emails-and-locales.md).
 */
export const SHOP_VARIABLES = ['shopUrl', 'shopName'] as const;

export interface TemplateDataSpec {
  spec: DataSpec;
  /** Names the data in messages: the event type, or the template code. */
  label: string;
  /** The category of the template code (its seeded rows have it). */
  category: Category;
}

/**
 * The data spec of each template code we ship: an event's template and its follow-up use the event's
 * data. Template codes not listed (added through the template API) declare their variables by using
 * them; the API checks direct sends to them against the stored templates.
 */
export const TEMPLATE_DATA_SPECS: Readonly<Record<string, TemplateDataSpec>> = (() => {
  const specs: Record<string, TemplateDataSpec> = {};
  for (const [type, definition] of Object.entries(EVENT_CATALOG) as [
    EventType,
    (typeof EVENT_CATALOG)[EventType],
  ][]) {
    specs[definition.templateCode] = {
      spec: EVENT_DATA_SPECS[type],
      label: type,
      category: definition.category,
    };
    if (definition.followUp)
      specs[definition.followUp.templateCode] = {
        spec: EVENT_DATA_SPECS[type],
        label: type,
        category: definition.category,
      };
  }
  specs.marketing_announcement = {
    spec: MARKETING_ANNOUNCEMENT_SPEC,
    label: 'marketing_announcement',
    category: 'marketing',
  };
  return specs;
})();

/**
 * Template codes from the original integration plan that are not our codes lower-cased. Every code is
 * case-insensitive (`ORDER_CREATED` is `order_created`); these map on top of that.
 */
export const TEMPLATE_CODE_ALIASES: Readonly<Record<string, string>> = {
  low_stock_alert: 'inventory_low_stock',
};

/** The stored template code a caller's code names: lower-cased, then aliases applied. */
export function resolveTemplateCode(code: string): string {
  const lower = code.toLowerCase();
  return Object.hasOwn(TEMPLATE_CODE_ALIASES, lower) ? TEMPLATE_CODE_ALIASES[lower] : lower;
}

/** The data spec a (stored) template code's variables follow, or null for codes we do not ship. */
export function templateDataSpec(code: string): TemplateDataSpec | null {
  return Object.hasOwn(TEMPLATE_DATA_SPECS, code) ? TEMPLATE_DATA_SPECS[code] : null;
}

export interface DataProblem {
  field: string;
  message: string;
}

/** Checks data against a spec: every required field present, every present field of its type. */
export function checkData(spec: DataSpec, data: Record<string, unknown>, label: string): DataProblem[] {
  const problems: DataProblem[] = [];
  for (const [name, field] of Object.entries(spec)) {
    const value = Object.hasOwn(data, name) ? data[name] : undefined;
    if (value === undefined || value === null) {
      if (field.required)
        problems.push({
          field: name,
          message: `is required for ${label} (${FIELD_TYPES[field.type].summary(field)})`,
        });
      continue;
    }
    const problem = FIELD_TYPES[field.type].check(value, field);
    if (problem) problems.push({ field: name, message: problem });
  }
  return problems;
}

/** The smallest valid data of a spec: its required fields with sample values. */
export function minimalData(spec: DataSpec): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(spec)
      .filter(([, f]) => f.required)
      .map(([name, f]) => [name, FIELD_TYPES[f.type].sample]),
  );
}

/** Every field of a spec with sample values. */
export function fullData(spec: DataSpec): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).map(([name, f]) => [name, FIELD_TYPES[f.type].sample]));
}

/** One line per field, for API docs: `orderNumber` (required, ...). */
export function describeSpec(spec: DataSpec): string {
  return Object.entries(spec)
    .map(
      ([name, f]) =>
        `\`${name}\` (${f.required ? 'required' : 'optional'}, ${FIELD_TYPES[f.type].summary(f)}): ${f.description}`,
    )
    .join('; ');
}
