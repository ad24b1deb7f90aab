// Starts GOV.UK Frontend's components (header menu, error summary focus, and the rest).
import { initAll } from "./govuk-frontend.min.js";

initAll();
