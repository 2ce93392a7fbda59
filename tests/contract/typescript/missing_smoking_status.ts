// The same patient without smoking_status, a required field: must NOT type-check.
import type { components } from "./stroke-risk";

type Patient = components["schemas"]["Patient"];

export const patient: Patient = {
  gender: "Female",
  age: 67,
  hypertension: 1,
  heart_disease: 0,
  ever_married: "Yes",
  work_type: "Private",
  residence_type: "Urban",
  avg_glucose_level: 105.2,
  bmi: null,
};
