export { ALL_HEALTH_ENDPOINTS, HEALTH_ENDPOINTS, healthAnswer, healthControl, SYSTEM_ROUTE, type HealthEndpoint, type HealthSources } from "./health.js";
