// Builds a patient and reads `probability` with the generated types: must type-check.
import type { components } from "./stroke-risk";

type Patient = components["schemas"]["Patient"];
type Assessment = components["schemas"]["Assessment"];

const patient: Patient = {
  gender: "Female",
  age: 67,
  hypertension: 1,
  heart_disease: 0,
  ever_married: "Yes",
  work_type: "Private",
  residence_type: "Urban",
  avg_glucose_level: 105.2,
  bmi: null,
  smoking_status: "never smoked",
};

export async function strokeRisk(baseUrl: string): Promise<number> {
  const reply = await fetch(`${baseUrl}/predict`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(patient),
  });
  const assessment = (await reply.json()) as Assessment;
  return assessment.probability;
}
