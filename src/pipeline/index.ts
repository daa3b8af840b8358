export { createContext, setResponseHeader, type Answer, type ContextFacts, type MatchedRoute, type RequestContext, type ResponseHead } from "./context.js";
export { inStageOrder, STAGES, type Control, type Stage } from "./control.js";
export { POLICY_NAME, policyName } from "./names.js";
export { Pipeline, routePlan, type RoutePlan } from "./pipeline.js";
