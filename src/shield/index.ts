export { Detector, RULES, type AttackClass, type Detection, type Rule } from "./detectors.js";
export { normalizeForDetection } from "./normalize.js";
export { Inspection, type Finding, type InspectionLimits, type ShieldCheck } from "./inspect.js";
export { shieldControl } from "./shield.js";
export { SHIELD_CHECKS, shieldSchema, type ShieldPolicy } from "./schema.js";
