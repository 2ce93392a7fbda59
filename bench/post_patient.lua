-- wrk script: POST the documented example patient as JSON.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"gender": "Female", "age": 67.0, "hypertension": 1, "heart_disease": 0, ' ..
  '"ever_married": "Yes", "work_type": "Private", "residence_type": "Urban", ' ..
  '"avg_glucose_level": 171.2, "bmi": 34.4, "smoking_status": "smokes"}'
