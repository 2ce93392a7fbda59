// Validates FHIR R4 resources against the official FHIR R4 JSON schema (ajv, through
// @asymmetrik/fhir-json-schema-validator): an independent check of what the EHR routes
// send, beside fhir.resources. Reads a JSON array of resources on stdin; prints a JSON
// array with, for each resource, the list of the schema's errors (empty when valid).
const Validator = require("@asymmetrik/fhir-json-schema-validator");

const validator = new Validator();
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const resources = JSON.parse(input);
  const errors = resources.map((resource) =>
    validator.validate(resource).map((e) => `${e.dataPath || e.instancePath || ""} ${e.message}`)
  );
  process.stdout.write(JSON.stringify(errors));
});
