export { stepUpControl, stepUpSchema, type StepUpPolicy } from "./step-up.js";
