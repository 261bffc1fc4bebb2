// Global styles: uPlot's, then the dashboard's (its elements render in the light DOM, see LightElement).
import 'uplot/dist/uPlot.min.css';
import './admin.css';
import './admin-app';
