export { isAllowedReturnUrl, returnUrlControl, returnUrlSchema, type ReturnUrlPolicy } from "./return-url.js";
