export { ATTACK_CLASSES, Detector, type AttackClass, type Detection, type DetectorOptions, type ParanoiaLevel, type TextKind } from "./detectors.js";
export { FieldExclusions } from "./exclusions.js";
export { foldForDetection, normalizeForDetection } from "./normalize.js";
export { Inspection, blockingClasses, type Finding, type InspectionLimits, type ShieldCheck } from "./inspect.js";
export { shieldControl } from "./shield.js";
export { SHIELD_CHECKS, shieldSchema, type ShieldPolicy } from "./schema.js";
