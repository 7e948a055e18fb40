module ci-cd-monitor/junit-sample

go 1.22
