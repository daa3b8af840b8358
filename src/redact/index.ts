export { ENTITIES, sensitiveName, type Entity, type Finding } from "./detectors.js";
export { Redactor, redactModeSchema, redactOptionsSchema, type RedactMode, type RedactOptions } from "./redactor.js";
