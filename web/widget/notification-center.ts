/**
 * The embeddable widget (built as a classic script, dist/web/widget/notification-center.js): defines
 * <notification-bell> and the elements it is made of. See README "Notification center".
 */
import './script-origin';
import './notification-bell';
