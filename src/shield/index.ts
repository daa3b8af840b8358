export { Detector, RULES, type AttackClass, type Detection, type Rule } from "./detectors.js";
export { normalizeForDetection } from "./normalize.js";
export { Inspection, type Finding, type InspectionLimits, type ShieldCheck } from "./inspect.js";
