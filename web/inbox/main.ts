// The shopper's notification center at /inbox/ (docs/contracts.md#browser-surfaces).
import './inbox-app';
