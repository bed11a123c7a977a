package sim

// Building the FHIR resources of the organisation, its staff and patients.

const hospitalID = "org-hospital"

func (g *generator) emitOrganizations() error {
	hospital := organization{
		ResourceType: "Organization",
		ID:           hospitalID,
		Active:       true,
		Identifier:   []identifier{{System: "urn:trustward:organization", Value: "VBGH"}},
		Type:         []concept{code(systemOrgType, "prov", "Healthcare Provider")},
		Name:         hospitalName,
		Alias:        []string{"VBGH"},
		Telecom:      []contactPoint{{System: "phone", Value: "(555) 010-0000", Use: "work"}, {System: "url", Value: "https://" + staffDomain, Use: "work"}},
		Address:      []address{{Use: "work", Type: "both", Line: []string{"1 Infirmary Hill"}, City: cityName, State: stateName, PostalCode: "97310"}},
	}
	if err := g.out("Organization", hospital.ID, hospital); err != nil {
		return err
	}
	for _, d := range g.depts {
		org := organization{
			ResourceType: "Organization",
			ID:           d.id,
			Active:       true,
			Type:         []concept{code(systemOrgType, "dept", "Hospital Department")},
			Name:         d.name,
			PartOf:       &reference{Reference: "Organization/" + hospitalID},
		}
		if err := g.out("Organization", org.ID, org); err != nil {
			return err
		}
	}
	return nil
}

func employeeIdentifier(use, number string) identifier {
	return identifier{
		Use:    use,
		Type:   &concept{Coding: []coding{{System: systemIdentifierType, Code: "EI", Display: "Employee number"}}},
		System: SystemEmployee,
		Value:  number,
	}
}

func (p *person) name(prefix ...string) []humanName {
	return []humanName{{Use: "official", Family: p.family, Given: p.given, Prefix: prefix}}
}

func (g *generator) practitionerOf(s *staffMember) practitioner {
	pr := practitioner{
		ResourceType: "Practitioner",
		ID:           s.id,
		Identifier:   []identifier{employeeIdentifier("official", s.employee)},
		Active:       true,
		Name:         s.name(),
		Telecom: []contactPoint{
			{System: "email", Value: s.workEmail, Use: "work"},
			{System: "phone", Value: s.workPhone, Use: "work"},
			{System: "phone", Value: s.mobile, Use: "mobile"},
		},
		Address:   []address{s.home.address()},
		Gender:    s.gender,
		BirthDate: fhirDate(s.birth),
	}
	switch s.role {
	case roleClinician:
		pr.Name = s.name("Dr.")
		pr.Qualification = []qualification{{Code: code(systemDegree, "MD", "Doctor of Medicine")}}
	case roleNurse:
		pr.Qualification = []qualification{{Code: code(systemDegree, "RN", "Registered Nurse")}}
	}
	return pr
}

func (g *generator) practitionerRoleOf(s *staffMember) practitionerRole {
	// The Trustward role comes first: the records index reads the first
	// coding as the staff member's role.
	c := concept{Coding: []coding{{System: SystemRole, Code: s.role, Display: s.label}}, Text: s.label}
	for _, ri := range roleInfos() {
		if ri.role == s.role && ri.standard.Code != "" {
			c.Coding = append(c.Coding, ri.standard)
		}
	}
	return practitionerRole{
		ResourceType: "PractitionerRole",
		ID:           s.roleID,
		Active:       true,
		Period:       &period{Start: fhirDate(s.hired)},
		Practitioner: ref("Practitioner", s.id),
		Organization: ref("Organization", s.dept.id),
		Code:         []concept{c},
		Telecom:      []contactPoint{{System: "phone", Value: s.workPhone, Use: "work"}},
	}
}

func maritalDisplay(c string) string {
	switch c {
	case "M":
		return "Married"
	case "D":
		return "Divorced"
	case "W":
		return "Widowed"
	}
	return "Never Married"
}

func (g *generator) patientOf(p *patient) patientResource {
	pr := patientResource{
		ResourceType: "Patient",
		ID:           p.id,
		Identifier: []identifier{{
			Use:    "usual",
			Type:   &concept{Coding: []coding{{System: systemIdentifierType, Code: "MR", Display: "Medical record number"}}},
			System: SystemMRN,
			Value:  p.mrn,
		}},
		Active:    true,
		Name:      p.name(),
		Telecom:   []contactPoint{{System: "phone", Value: p.home.phone, Use: "home"}},
		Gender:    p.gender,
		BirthDate: fhirDate(p.birth),
		Address:   []address{p.home.address()},
	}
	if p.staff != nil {
		pr.Identifier = append(pr.Identifier, employeeIdentifier("secondary", p.staff.employee))
	}
	if p.vip {
		pr.Meta = &meta{Security: []coding{{System: systemConfidentialty, Code: "V", Display: "very restricted"}}}
	}
	if p.mobile != "" {
		pr.Telecom = append(pr.Telecom, contactPoint{System: "phone", Value: p.mobile, Use: "mobile"})
	}
	if p.email != "" {
		pr.Telecom = append(pr.Telecom, contactPoint{System: "email", Value: p.email, Use: "home"})
	}
	if p.marital != "" {
		c := code(systemMarital, p.marital, maritalDisplay(p.marital))
		pr.MaritalStatus = &c
	}
	if gu := p.guardian; gu != nil {
		n := gu.name()[0]
		n.Use = ""
		contact := patientContact{
			Relationship: []concept{{Coding: []coding{{System: systemRelationship, Code: "N", Display: "Next-of-Kin"}}, Text: "Parent or guardian"}},
			Name:         &n,
			Telecom:      []contactPoint{{System: "phone", Value: p.home.phone, Use: "home"}},
		}
		if gu.mobile != "" {
			contact.Telecom = append(contact.Telecom, contactPoint{System: "phone", Value: gu.mobile, Use: "mobile"})
		}
		pr.Contact = []patientContact{contact}
	}
	return pr
}
