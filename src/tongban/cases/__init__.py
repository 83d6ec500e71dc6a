"""The case engine (在线申请、网上受理、远程寄递): applications, workflows, deadlines, delivery."""
