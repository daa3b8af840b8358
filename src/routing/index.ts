export { HTTP_METHODS, isOverrideParameter, methodControl, requireRoutableMethod } from "./method.js";
export { parseRequestTarget, type RequestTarget } from "./request-target.js";
export { Router, validatePattern, withHeadForGet, type Match } from "./router.js";
