import { Migration20261125000000_initial } from './Migration20261125000000_initial';
import { Migration20261125000100_default_templates } from './Migration20261125000100_default_templates';
import { Migration20261125002000_api } from './Migration20261125002000_api';
import { Migration20261125003000_campaigns } from './Migration20261125003000_campaigns';
import { Migration20261125004000_plan_variables } from './Migration20261125004000_plan_variables';
import { Migration20261125005000_lean_event_path } from './Migration20261125005000_lean_event_path';
import { Migration20261125006000_webhook_secrets } from './Migration20261125006000_webhook_secrets';
import { Migration20261125007000_dashboard_indexes } from './Migration20261125007000_dashboard_indexes';
import { Migration20261206000000_event_spec } from './Migration20261206000000_event_spec';
import { Migration20261206000100_stuck_work_indexes } from './Migration20261206000100_stuck_work_indexes';
import { Migration20261206010000_consent } from './Migration20261206010000_consent';
import { Migration20261206020000_digests_and_caps } from './Migration20261206020000_digests_and_caps';
import { Migration20261206030000_locales_and_layout } from './Migration20261206030000_locales_and_layout';
import { Migration20261206040000_order_journeys } from './Migration20261206040000_order_journeys';
import { Migration20261206050000_retention } from './Migration20261206050000_retention';
import { Migration20261207020000_recipient_refs_and_erasure } from './Migration20261207020000_recipient_refs_and_erasure';
import { Migration20261207030000_notification_contents } from './Migration20261207030000_notification_contents';
import { Migration20261207040000_engagement } from './Migration20261207040000_engagement';
import { Migration20261207041000_email_suppressions } from './Migration20261207041000_email_suppressions';
import { Migration20261207050000_experiments } from './Migration20261207050000_experiments';
import { Migration20261207051000_analytics } from './Migration20261207051000_analytics';

/** Listed explicitly so the same list runs from ts (jest) and compiled js. Append new migrations here. */
export const MIGRATIONS = [
  { name: 'Migration20261125000000_initial', class: Migration20261125000000_initial },
  { name: 'Migration20261125000100_default_templates', class: Migration20261125000100_default_templates },
  { name: 'Migration20261125002000_api', class: Migration20261125002000_api },
  { name: 'Migration20261125003000_campaigns', class: Migration20261125003000_campaigns },
  { name: 'Migration20261125004000_plan_variables', class: Migration20261125004000_plan_variables },
  { name: 'Migration20261125005000_lean_event_path', class: Migration20261125005000_lean_event_path },
  { name: 'Migration20261125006000_webhook_secrets', class: Migration20261125006000_webhook_secrets },
  { name: 'Migration20261125007000_dashboard_indexes', class: Migration20261125007000_dashboard_indexes },
  { name: 'Migration20261206000000_event_spec', class: Migration20261206000000_event_spec },
  { name: 'Migration20261206000100_stuck_work_indexes', class: Migration20261206000100_stuck_work_indexes },
  { name: 'Migration20261206010000_consent', class: Migration20261206010000_consent },
  { name: 'Migration20261206020000_digests_and_caps', class: Migration20261206020000_digests_and_caps },
  { name: 'Migration20261206030000_locales_and_layout', class: Migration20261206030000_locales_and_layout },
  { name: 'Migration20261206040000_order_journeys', class: Migration20261206040000_order_journeys },
  { name: 'Migration20261206050000_retention', class: Migration20261206050000_retention },
  {
    name: 'Migration20261207020000_recipient_refs_and_erasure',
    class: Migration20261207020000_recipient_refs_and_erasure,
  },
  {
    name: 'Migration20261207030000_notification_contents',
    class: Migration20261207030000_notification_contents,
  },
  { name: 'Migration20261207040000_engagement', class: Migration20261207040000_engagement },
  {
    name: 'Migration20261207041000_email_suppressions',
    class: Migration20261207041000_email_suppressions,
  },
  { name: 'Migration20261207050000_experiments', class: Migration20261207050000_experiments },
  { name: 'Migration20261207051000_analytics', class: Migration20261207051000_analytics },
];
