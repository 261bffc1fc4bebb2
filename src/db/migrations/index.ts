import { Migration20261125000000_initial } from './Migration20261125000000_initial';

/** Listed explicitly so the same list runs from ts (jest) and compiled js. Append new migrations here. */
export const MIGRATIONS = [{ name: 'Migration20261125000000_initial', class: Migration20261125000000_initial }];
