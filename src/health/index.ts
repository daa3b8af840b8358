export { ALL_HEALTH_ENDPOINTS, HEALTH_ENDPOINTS, healthAnswer, healthControl, healthSchema, SYSTEM_ROUTE, type HealthEndpoint, type HealthPolicy, type HealthSources } from "./health.js";
