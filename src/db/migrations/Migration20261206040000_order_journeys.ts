import { Migration } from '@mikro-orm/migrations';
import { ORDER_JOURNEY_TEMPLATES } from '../seeds/order-journey-templates';
import { addTemplateSeeds, removeTemplateSeeds } from '../seeds/insert-template-seeds';

/** Order journeys (docs/order-journeys.md): version 1 of `order_cancelled`, `order_shipped_delivered` and `order_delayed`. */
export class Migration20261206040000_order_journeys extends Migration {
  override async up(): Promise<void> {
    addTemplateSeeds(this, ORDER_JOURNEY_TEMPLATES);
  }

  override async down(): Promise<void> {
    removeTemplateSeeds(this, ORDER_JOURNEY_TEMPLATES);
  }
}
